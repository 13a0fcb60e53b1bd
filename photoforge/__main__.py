from photoforge.cli import main

raise SystemExit(main())
