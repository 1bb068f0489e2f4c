"""schemathesis hooks for scripts/fuzz-api: about half of the ids generated into request bodies
are swapped for the fixtures' real ones, so orders and mutes reach past `404 not_found` to the
rules behind it. The swap depends only on the generated value, so a failure still replays."""

import os
import re

import schemathesis

# Only well-formed ids are swapped: a malformed one is a negative case and must stay malformed.
UUID = re.compile(r"[0-7][0-9a-f]{7}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

REAL = {
    "listing_id": os.environ["FUZZ_LISTING_ID"],
    "user_id": os.environ["FUZZ_USER_ID"],
}


@schemathesis.hook
def map_body(ctx, body):
    if not isinstance(body, dict):
        return body
    swapped = dict(body)
    for field, real in REAL.items():
        value = swapped.get(field)
        if isinstance(value, str) and UUID.fullmatch(value):
            swapped[field] = real
    return swapped
