"""Kafka plumbing on aiokafka: client settings, topic admin, the local broker, the stage runner."""
