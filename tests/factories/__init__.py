"""factory_boy factories. Money-holding factories fund accounts through ledger services only."""
