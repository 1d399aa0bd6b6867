"""`python -m repro.worker RUN_DIR`: rerun a recorded run's spec in a fresh interpreter."""

from repro.worker.process import main

raise SystemExit(main())
