from repro._entry import main

raise SystemExit(main())
