"""Understanding what people wrote: the reply form parsed and diffed against what was sent, token-less mail identified, and the answers the bot sends back."""
