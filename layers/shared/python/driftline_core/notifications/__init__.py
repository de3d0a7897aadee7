"""The emails: one publisher with one subject rule, and the message each outcome sends."""
