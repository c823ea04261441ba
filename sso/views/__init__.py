"""Views of single sign-on: the OAuth endpoints, discovery, developer apps, connected apps."""
