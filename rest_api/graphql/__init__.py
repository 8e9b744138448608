"""GraphQL, REST's second front door: the same reads, commands and rules, in one typed schema."""
