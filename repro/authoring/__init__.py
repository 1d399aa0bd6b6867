"""Writing papers and implementations: `repro new` (arxiv.py, new_paper.py and the files in
templates/), `repro impl new` (students.py) and `repro check` (check.py, stages.py)."""
