"""Reading an IMR determination letter into a structured record and a draft case file.

A letter is text laid out like the seed (`../shared/seeds/000_b27565c25da42ea0.txt`): a clinical
case summary, then per disputed item its decision, the claims administrator's and the reviewer's
guideline basis and the decision rationale. `text` reads the file and keeps every character's line
and column; `sections` finds the parts and refuses a letter that lacks one; `requests` parses the
request lines into items; `summary` states the facts the summary asserts (never a negated one:
`negation`); `draft` writes the case, each fact traced to its sentence. Nothing here decides.
"""
