"""SocialLab: match photos and match data in, branded Instagram posts out, published exactly once."""
