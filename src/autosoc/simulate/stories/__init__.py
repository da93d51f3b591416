"""Attack stories: each builds the events of one intrusion and says where they belong."""
