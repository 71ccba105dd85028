"""Testing models before they answer: held-out questions, a judge model, scorecards, the test of a finished job."""
