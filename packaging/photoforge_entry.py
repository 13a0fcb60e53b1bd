"""Entry script of the frozen app (packaging/photoforge.spec): the `photoforge` console command."""
from photoforge.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
