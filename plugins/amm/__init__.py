"""AMM pool maths shared by any plugin (DEX venues, the paper DEX). Not a registered plugin."""
