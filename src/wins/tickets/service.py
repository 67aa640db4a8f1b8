"""TEMPORARY facade (issue 12, the split of this module): the public names of the old wins.tickets.service, for
branches written before the split (the web kiosk of the kiosk branch reads `get_ticket` here). New code imports
from the modules named below; delete this file once nothing imports it."""

from __future__ import annotations

from wins.tickets.calling import call_next as call_next
from wins.tickets.calling import call_ticket as call_ticket
from wins.tickets.issuing import issue as issue
from wins.tickets.issuing import issue_ticket as issue_ticket
from wins.tickets.snapshot import queue_snapshot as queue_snapshot
from wins.tickets.transitions import cancel_by_customer as cancel_by_customer
from wins.tickets.transitions import transfer as transfer
from wins.tickets.transitions import transition as transition
from wins.tickets.views import get_by_tracking_token as get_by_tracking_token
from wins.tickets.views import get_ticket as get_ticket
from wins.tickets.views import ticket_event_data as ticket_event_data
from wins.tickets.views import ticket_view as ticket_view
