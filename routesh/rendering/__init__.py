"""How answers, plans and tables look in a terminal: streamed markdown, code, the spinner."""
