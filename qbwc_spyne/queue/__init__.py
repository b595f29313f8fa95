"""The job queue: its model and ports, job kinds, running jobs in a session, operator functions.

``_ports`` holds the job model and the interfaces storage implements (one
per audience: a session, an operator, a waiter for notifications);
``_kinds`` the job kinds; ``_handler`` the handler that runs jobs in Web
Connector sessions; ``_operator`` the operator's actions; ``_live`` live
requests. It reaches storage only through the ports.
"""
