"""Web Push "notify me" for the tracking page: a notification when a few people are ahead and when called.

Needs the browser vendor's push service on the internet, so a branch switches it on (`push_available`)."""
