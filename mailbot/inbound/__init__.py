"""The journey in: the SMTP listener and IMAP poller store each message before acknowledging it (queue), then the inbound worker classifies it and routes it by kind."""
