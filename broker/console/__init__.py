"""The read-only web console: a JSON snapshot of what this broker knows, and the static page.

The page (static/, shipped in the package, no build step) polls `/api/cluster` once a
second and redraws; nothing it sends can change the cluster. This package must never
hold a write path.
"""
