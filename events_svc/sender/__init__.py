"""The outbox sender: claims, renders, sends and records notification rows. It reads every
domain; nothing but the workers imports it."""
