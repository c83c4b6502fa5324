"""The eval suite: each agent scored on labelled data and red-team cases, before release.

`shipyard eval` runs it (`suite.run_suite`), `shipyard release` compares it with the
last release (`release.py`). Data is in `data/*.jsonl` (sources in `data/SOURCES.md`).
Nothing here imports deepeval until an eval actually runs (`metrics.deepeval`).
"""
