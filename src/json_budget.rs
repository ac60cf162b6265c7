//! A bound on what a JSON text may cost to parse, checked byte by byte as it arrives, before
//! any tree is built.
//!
//! A parsed JSON value costs far more than its text: `[0,0,0,...]` is two bytes a value in the
//! text and 32 bytes or more in a `serde_json::Value` (an object's entry, 100 and more). A 1 MiB
//! request whose ignored argument held ~500k small values cost 115 MiB while parsed; one 10.5
//! MB stdio line, 1.08 GiB. A byte limit alone does not bound that; counting the values does.
//! [`Scanner`] counts values (every scalar, string, key, object and array) and nesting depth
//! over a stream of chunks, with no allocation, and says as soon as either passes its
//! [`Budget`]. It does not validate: the parser that runs after it does, on a text now known to
//! be small enough.

/// How much a JSON text may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Most bytes.
    pub bytes: usize,
    /// Most values (each scalar, string, object key, object and array counts one).
    pub values: usize,
    /// Deepest nesting of objects and arrays.
    pub depth: usize,
}

/// A client's message to this server, on either transport. The largest a tool can need is a
/// `cancel_message_batches` of 100 IDs of 256 characters (~27 KB, ~110 values); 64 KiB and
/// 4,096 values leave room for any client's `_meta` and capabilities, and bound the tree built
/// from one message at about 1 MiB.
pub const CLIENT_MESSAGE: Budget = Budget {
    bytes: 64 * 1024,
    values: 4096,
    depth: 32,
};

/// Which bound a text passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    #[error("more than {0} bytes")]
    Bytes(usize),
    #[error("more than {0} JSON values")]
    Values(usize),
    #[error("JSON nested deeper than {0} levels")]
    Depth(usize),
}

/// Counts a JSON text's bytes, values and depth as its chunks arrive.
#[derive(Debug, Clone)]
pub struct Scanner {
    budget: Budget,
    bytes: usize,
    values: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    in_scalar: bool,
}

impl Scanner {
    pub fn new(budget: Budget) -> Self {
        Self {
            budget,
            bytes: 0,
            values: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            in_scalar: false,
        }
    }

    /// Values counted so far.
    pub fn values(&self) -> usize {
        self.values
    }

    /// Starts over, for the next text (the next line on stdio).
    pub fn reset(&mut self) {
        *self = Self::new(self.budget);
    }

    /// Counts `chunk`, the next bytes of the text; an error as soon as a bound is passed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Exceeded> {
        self.bytes = self.bytes.saturating_add(chunk.len());
        if self.bytes > self.budget.bytes {
            return Err(Exceeded::Bytes(self.budget.bytes));
        }
        for &b in chunk {
            self.byte(b)?;
        }
        Ok(())
    }

    fn byte(&mut self, b: u8) -> Result<(), Exceeded> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return Ok(());
        }
        let scalar_byte = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.');
        if scalar_byte {
            if !self.in_scalar {
                self.in_scalar = true;
                self.count()?;
            }
            return Ok(());
        }
        self.in_scalar = false;
        match b {
            b'"' => {
                self.in_string = true;
                self.count()
            }
            b'{' | b'[' => {
                self.count()?;
                self.depth += 1;
                if self.depth > self.budget.depth {
                    return Err(Exceeded::Depth(self.budget.depth));
                }
                Ok(())
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn count(&mut self) -> Result<(), Exceeded> {
        self.values += 1;
        if self.values > self.budget.values {
            return Err(Exceeded::Values(self.budget.values));
        }
        Ok(())
    }
}

/// Checks a whole text at once.
pub fn check(text: &[u8], budget: Budget) -> Result<(), Exceeded> {
    Scanner::new(budget).feed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Budget = Budget {
        bytes: 1000,
        values: 10,
        depth: 3,
    };

    #[test]
    fn counts_every_kind_of_value_once() {
        let mut s = Scanner::new(SMALL);
        s.feed(br#"{"a": [1, -2.5e3, true, null], "b\"}": "x,{"}"#)
            .unwrap();
        // object, "a", array, 1, -2.5e3, true, null, "b\"}", "x,{"
        assert_eq!(s.values(), 9);
    }

    #[test]
    fn counts_across_chunks_as_in_one() {
        let text = br#"{"key": ["str\"ing", 12345, false]}"#;
        let mut whole = Scanner::new(SMALL);
        whole.feed(text).unwrap();
        for split in 0..text.len() {
            let mut s = Scanner::new(SMALL);
            s.feed(&text[..split]).unwrap();
            s.feed(&text[split..]).unwrap();
            assert_eq!(s.values(), whole.values(), "split at {split}");
        }
    }

    #[test]
    fn each_bound_is_reported_as_soon_as_passed() {
        assert_eq!(
            check(b"[0,0,0,0,0,0,0,0,0,0,0]", SMALL),
            Err(Exceeded::Values(10))
        );
        assert_eq!(check(b"[[[[]]]]", SMALL), Err(Exceeded::Depth(3)));
        assert_eq!(check(b"[[[]]]", SMALL), Ok(()));
        assert_eq!(check(&[b' '; 1001], SMALL), Err(Exceeded::Bytes(1000)));
        // Brackets and quotes inside strings are text, not structure.
        assert_eq!(check(br#"["[[[[[[[[", "{{{{{{{"]"#, SMALL), Ok(()));
    }

    #[test]
    fn a_bulk_cancel_of_100_long_ids_fits_a_client_message() {
        let ids: Vec<String> = (0..100).map(|i| format!("msgbatch_{i:0>247}")).collect();
        let call = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "cancel_message_batches",
                       "arguments": {"message_batch_ids": ids, "wait_seconds": 30},
                       "_meta": {"progressToken": "p-1"}}
        });
        check(call.to_string().as_bytes(), CLIENT_MESSAGE).unwrap();
    }
}
