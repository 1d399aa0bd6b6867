"""Everything a person reads: terminal tables and JSON (text.py), `repro diff`'s output
(diff.py), the HTML report (html.py) and its plots (plots.py), the progress display
(progress.py) and the model-card export (export.py)."""
