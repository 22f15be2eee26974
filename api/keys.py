"""`lasso keys create|list|revoke`: manage API keys in the service's database (LASSO_DATABASE_URL).

Keys are stored hashed: `create` shows the key once, as the last line of its output, so scripts can do
`KEY=$(lasso keys create --scopes audio:separate | tail -1)`.
"""

import argparse
import sys

from api import crud
from api.db import session_scope
from api.settings import get_settings


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lasso keys", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = sub.add_parser("create", help="create a key and print it (last line)")
    c.add_argument("--scopes", default=",".join(crud.SCOPES),
                   help=f"comma-separated scopes (default: all): {', '.join(crud.SCOPES)}")
    c.add_argument("--credits", type=float, default=None,
                   help="audio-seconds balance; omitted = unmetered")
    c.add_argument("--name", default="", help="a label shown by `list`")
    sub.add_parser("list", help="list keys (prefix, scopes, credits, state)")
    r = sub.add_parser("revoke", help="revoke a key by id or displayed prefix")
    r.add_argument("key_id")
    return p


def create_key(scopes: list[str], credits: float | None = None, name: str = "") -> str:
    """Create a key in the configured database and return its secret (also used by `lasso serve`)."""
    with session_scope(get_settings().database) as s:
        _, secret = crud.create_api_key(s, scopes=scopes, credits=credits, name=name)
    return secret


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    db = get_settings().database
    if args.action == "create":
        scopes = [x.strip() for x in args.scopes.split(",") if x.strip()]
        try:
            secret = create_key(scopes, args.credits, args.name)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"scopes: {', '.join(scopes)}; credits: {'unmetered' if args.credits is None else args.credits} s")
        print("store this key now; it is not shown again:")
        print(secret)
        return 0
    if args.action == "list":
        with session_scope(db) as s:
            for k in crud.list_api_keys(s):
                state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
                credits = "unmetered" if k.credits is None else f"{k.credits:g} s"
                print(f"{k.id}\t{k.prefix}...\t{k.scopes}\t{credits}\t{state}\t{k.name}")
        return 0
    with session_scope(db) as s:
        ok = crud.revoke_api_key(s, key_id=args.key_id)
    print("revoked" if ok else f"no active key {args.key_id!r}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
