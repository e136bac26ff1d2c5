"""Reviews: go/no-go reviews, evidence, decisions, objections and red flags."""
