from distilgen import Instructions

instructions = Instructions(name="corpus")
