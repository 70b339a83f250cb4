print("cajal demo")
