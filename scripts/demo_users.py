#!/usr/bin/env python3
"""The demo users of seed/demo.json by name, for `scripts/gateway.sh token NAME`: a user's given
name or the part of its user name before any @, lower-cased (ada or admin, alice, hal or
helpdesk, ci-bot, ...). Prints "USER_ID ORG_ID"; an unknown name exits 2 listing the names.
Usage: demo_users.py NAME [SEED.json]"""
import json
import os
import sys

SEED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "seed", "demo.json")


def names(seed_path: str = SEED) -> dict:
    """name -> (user id, org id); a name two users would share is left out."""
    with open(seed_path) as f:
        seed = json.load(f)
    found, shared = {}, set()
    for org in seed["orgs"]:
        for user in org.get("users", []):
            for name in {user.get("givenName", "").lower(), user["userName"].split("@")[0].lower()} - {""}:
                if name in found and found[name][0] != user["id"]:
                    shared.add(name)
                found[name] = (user["id"], org["id"])
    return {name: ids for name, ids in found.items() if name not in shared}


def resolve(name: str, seed_path: str = SEED) -> tuple:
    """The user and org ids of `name`; LookupError naming every known name otherwise."""
    known = names(seed_path)
    if name.lower() not in known:
        raise LookupError(f"no demo user {name!r} in {seed_path}; the names: {', '.join(sorted(known))}")
    return known[name.lower()]


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip())
    try:
        print(*resolve(*sys.argv[1:]))
    except LookupError as e:
        print(f"demo_users: {e.args[0]}", file=sys.stderr)
        sys.exit(2)
