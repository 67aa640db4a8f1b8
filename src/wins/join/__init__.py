"""Per-service remote settings (issue 17): how many people ahead trigger the "nearly your turn" push, and
remote join (the public /join page)."""
