"""Tickets: issuing (issuing.py), calling (calling.py), the state machine (states.py, transitions.py), what a
ticket looks like to each reader (views.py), the queue snapshot (snapshot.py), queue lengths (queue_counts.py)
and the issue path's caches (caches.py). See docs/architecture.md, "Where things are"."""

# The queue counts and the caches keep themselves in step through listeners on WINS's sessions. Importing them
# here registers those listeners whenever anything of wins.tickets (its models included) is loaded, so no
# process can change tickets with the counts left behind.
from wins.tickets import caches, queue_counts  # noqa: F401
