"""The REST API: routes, auth, problem details; handlers call ports, never raw clients."""
