"""Drives `msgbatch-mcp mock` with the official Python SDK (`anthropic`), unmodified, as a user would.

Usage: python python_sdk_check.py BASE_URL   (BASE_URL as given to the SDK: http://127.0.0.1:PORT)

Creates batches, lists them with auto-pagination, cancels one, retrieves it until it has ended,
reads its results, deletes it, and checks a 404 and two 400s. Every check prints a line; the
last line says "N passed, N failed"; the exit status is non-zero when any check failed.
"""

import sys
import time

import anthropic

BASE_URL = sys.argv[1]
PASSED = 0
FAILED = 0


def check(name, condition, detail=""):
    global PASSED, FAILED
    if condition:
        PASSED += 1
        print(f"  ok    {name}")
    else:
        FAILED += 1
        print(f"  FAIL  {name} {detail}")


def requests(n, prefix):
    return [
        {
            "custom_id": f"{prefix}-{i}",
            "params": {
                "model": "claude-sonnet-4-5",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Question {i}"}],
            },
        }
        for i in range(n)
    ]


def main():
    print(f"anthropic {anthropic.__version__} (Python), against {BASE_URL}")
    # Only what a user passes: a key and the base URL. No extra headers, no patches.
    client = anthropic.Anthropic(api_key="sk-ant-sdk-check-not-a-real-key", base_url=BASE_URL)

    # create
    big = client.messages.batches.create(requests=requests(200, "big"))
    check("create answers an in_progress message_batch",
          big.type == "message_batch" and big.processing_status == "in_progress", big)
    check("create: all requests under processing",
          big.request_counts.processing == 200, big.request_counts)
    small = [client.messages.batches.create(requests=requests(2, f"s{k}")).id for k in range(4)]

    # list with auto-pagination
    seen = [b.id for b in client.messages.batches.list(limit=2)]
    check("list auto-paginates over every batch without duplicates",
          len(seen) == len(set(seen)) and {big.id, *small} <= set(seen), seen)
    first_page = client.messages.batches.list(limit=2)
    check("list: a page of 2 with has_more", len(first_page.data) == 2 and first_page.has_more,
          first_page)
    check("list: newest first", seen.index(small[-1]) < seen.index(big.id), seen)
    raw = client.messages.batches.with_raw_response.list(limit=1)
    check("answers carry a request-id", raw.headers.get("request-id", "").startswith("req_"),
          dict(raw.headers))

    # cancel
    canceled = client.messages.batches.cancel(big.id)
    check("cancel answers canceling", canceled.processing_status == "canceling", canceled)
    check("cancel: cancel_initiated_at set", canceled.cancel_initiated_at is not None, canceled)

    # retrieve until ended
    deadline = time.monotonic() + 120
    batch = client.messages.batches.retrieve(big.id)
    moved = []
    while batch.processing_status != "ended" and time.monotonic() < deadline:
        if batch.request_counts.processing != 200:
            moved.append(batch.request_counts)
        time.sleep(0.2)
        batch = client.messages.batches.retrieve(big.id)
    check("counts stay under processing until the end", not moved, moved[:1])
    check("retrieve until ended", batch.processing_status == "ended", batch)
    counts = batch.request_counts
    total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
    check("ended: counts settled and add up", counts.processing == 0 and total == 200, counts)
    check("ended: results_url set", bool(batch.results_url), batch)

    # results
    results = list(client.messages.batches.results(big.id))
    ids = {r.custom_id for r in results}
    check("results: one per request", len(results) == 200 and ids == {f"big-{i}" for i in range(200)},
          len(results))
    kinds = {}
    for r in results:
        kinds[r.result.type] = kinds.get(r.result.type, 0) + 1
    check("results agree with the counts",
          kinds.get("succeeded", 0) == counts.succeeded
          and kinds.get("errored", 0) == counts.errored
          and kinds.get("canceled", 0) == counts.canceled, (kinds, counts))
    succeeded = next((r for r in results if r.result.type == "succeeded"), None)
    check("a succeeded result holds a message",
          succeeded is None or succeeded.result.message.role == "assistant", succeeded)

    # 400: too late to cancel
    try:
        client.messages.batches.cancel(big.id)
        check("cancel of an ended batch is a 400", False, "no error")
    except anthropic.BadRequestError as e:
        check("cancel of an ended batch is a 400 invalid_request_error",
              e.status_code == 400 and e.body["error"]["type"] == "invalid_request_error", e.body)

    # delete
    deleted = client.messages.batches.delete(big.id)
    check("delete answers message_batch_deleted",
          deleted.id == big.id and deleted.type == "message_batch_deleted", deleted)

    # 404
    for what, call in [("a deleted batch", lambda: client.messages.batches.retrieve(big.id)),
                       ("an unknown batch",
                        lambda: client.messages.batches.retrieve("msgbatch_01NoSuchBatch0000000000"))]:
        try:
            call()
            check(f"retrieve of {what} is a 404", False, "no error")
        except anthropic.NotFoundError as e:
            check(f"retrieve of {what} is a 404 not_found_error",
                  e.status_code == 404 and e.body["error"]["type"] == "not_found_error", e.body)

    # 400: a bad create body
    bad = requests(1, "bad")
    bad[0]["params"]["max_tokens"] = 0
    try:
        client.messages.batches.create(requests=bad)
        check("a bad create body is a 400", False, "no error")
    except anthropic.BadRequestError as e:
        message = e.body["error"]["message"]
        check("a bad create body is a 400 naming the field",
              e.status_code == 400 and "requests.0.params.max_tokens" in message, e.body)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with what happened
        FAILED += 1
        print(f"  FAIL  unexpected {type(e).__name__}: {e}")
    print(f"python sdk: {PASSED} passed, {FAILED} failed")
    sys.exit(1 if FAILED or not PASSED else 0)
