"""The performance harness of reconciler, one module per job.

`python bench/run.py` is the entry point (see bench/README.md). The modules:
`measure` (child processes: wall, CPU, peak RSS by os.wait4), `servers` (`sim serve`
on loopback), `datasets` (the generated tenant and desired state of one size),
`floors` and `stages` (programs run in fresh processes), `processes` (sections 1-3),
`applying` (4), `pipedrive` (5), `systems` and `systems_data` (6), `issue21` (7),
`report` (the Markdown and JSON), `compare` (two revisions side by side).
"""
