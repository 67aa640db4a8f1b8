"""Text messages (SMS) through the site's HTTP gateway: "nearly your turn" and "it is your turn — go to counter X"
to a phone number the customer gives on the tracking page. The number is stored encrypted, shown to nobody and
erased when the ticket ends. Off unless the IT person sets up a gateway (WINS_SMS_GATEWAY_URL) and a branch
switches it on (`sms_available`)."""
