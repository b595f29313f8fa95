"""Storage: the session store and job queue interfaces, and their backends."""
