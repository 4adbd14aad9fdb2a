"""Generated, labeled clips for the motion benchmarks. Rendered in memory (or into a temp dir
when a test needs a file); no media is ever committed."""
