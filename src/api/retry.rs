//! When to try a request again, and how long to wait first: the rules of Anthropic's official
//! SDKs, so that this server is about as patient as they are.
//!
//! - retried: connection errors, timeouts, 408, 409, 429 and every 5xx (529 included);
//! - an `x-should-retry: true|false` answer header overrides the status rule;
//! - wait before retry `n` (0-based): `min(0.5 * 2^n, 8)` s times a random factor in [0.75, 1];
//! - `retry-after-ms`, else `retry-after` (seconds or an HTTP date), replaces that wait when it
//!   is positive and at most 60 s.
//!
//! The 60 s ceiling is the Python SDK's rule, not every SDK's: the others may honour a longer
//! server-asked wait. We keep it on purpose: a tool call that sleeps for minutes leaves the agent
//! (and the person) waiting with no answer, while our own backoff answers within seconds and
//! the advice says to try again later.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The longest server-asked wait we honour; a longer one falls back to our own backoff (as the
/// Python SDK does; see the module doc for why).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const INITIAL_DELAY_SECS: f64 = 0.5;
const MAX_DELAY_SECS: f64 = 8.0;

/// Whether an answer with this status (and these headers) should be tried again.
pub fn should_retry_status(status: u16, headers: &HeaderMap) -> bool {
    match headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some(v) if v.eq_ignore_ascii_case("true") => return true,
        Some(v) if v.eq_ignore_ascii_case("false") => return false,
        _ => {}
    }
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The wait before retry number `retry` (0-based), honouring the answer's headers when given.
pub fn delay(retry: u32, headers: Option<&HeaderMap>) -> Duration {
    if let Some(asked) = headers.and_then(|h| retry_after(h, SystemTime::now())) {
        return asked;
    }
    backoff(retry, fastrand::f64())
}

/// The SDKs' exponential backoff; `random` in [0, 1) picks the jitter factor in [0.75, 1].
pub fn backoff(retry: u32, random: f64) -> Duration {
    let base = (INITIAL_DELAY_SECS * 2f64.powi(retry.min(16) as i32)).min(MAX_DELAY_SECS);
    let jitter = 1.0 - 0.25 * random.clamp(0.0, 1.0);
    Duration::from_secs_f64(base * jitter)
}

/// The wait the server asked for, if it is positive and at most 60 s.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let asked = if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        secs_to_duration(ms / 1000.0)
    } else {
        let v = header("retry-after")?;
        match v.parse::<f64>() {
            Ok(secs) => secs_to_duration(secs),
            Err(_) => httpdate::parse_http_date(v)
                .ok()
                .and_then(|at| at.duration_since(now).ok()),
        }
    }?;
    (asked > Duration::ZERO && asked <= MAX_RETRY_AFTER).then_some(asked)
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retries_the_sdk_statuses() {
        let none = HeaderMap::new();
        for s in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(should_retry_status(s, &none), "{s}");
        }
        for s in [400, 401, 403, 404, 413] {
            assert!(!should_retry_status(s, &none), "{s}");
        }
    }

    #[test]
    fn x_should_retry_overrides() {
        assert!(!should_retry_status(
            503,
            &headers(&[("x-should-retry", "false")])
        ));
        assert!(should_retry_status(
            400,
            &headers(&[("x-should-retry", "true")])
        ));
    }

    #[test]
    fn backoff_doubles_caps_at_eight_and_jitters_down_by_a_quarter() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(10, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(0, 1.0), Duration::from_millis(375));
        assert_eq!(backoff(50, 1.0), Duration::from_secs(6));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::now();
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after-ms", "250"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        let at = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let got = retry_after(&headers(&[("retry-after", &at)]), now).unwrap();
        assert!(got > Duration::from_secs(28) && got <= Duration::from_secs(30));
    }

    #[test]
    fn retry_after_out_of_range_is_ignored() {
        let now = SystemTime::now();
        for v in ["0", "-1", "61", "abc", "NaN"] {
            assert_eq!(
                retry_after(&headers(&[("retry-after", v)]), now),
                None,
                "{v}"
            );
        }
        // Falls back to the backoff.
        let d = delay(0, Some(&headers(&[("retry-after", "600")])));
        assert!(d <= Duration::from_millis(500));
    }
}
