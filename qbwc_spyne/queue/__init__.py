"""The job queue's handler: job kinds, running jobs in a session, operator functions.

It reaches storage only through the job queue interface.
"""
