"""``python -m l2w export ...``: what ``l2w export`` runs (l2w.export.main)."""
import sys

from .export import main

if len(sys.argv) < 2 or sys.argv[1] != "export":
    print("usage: python -m l2w export --checkpoint CKPT --output DIR --image-shape C,H,W [...]", file=sys.stderr)
    raise SystemExit(2)
raise SystemExit(main(sys.argv[2:]))
