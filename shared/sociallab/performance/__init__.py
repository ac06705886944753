"""How the accounts, posts and templates perform: the read side of the `insights` API."""
