"""The pure core: config, routing, policy, plans and costs, and the values that cross to the edges."""
