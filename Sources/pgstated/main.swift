print("pgstated 0.1.0")
