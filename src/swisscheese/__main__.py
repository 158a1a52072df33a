from swisscheese.cli import main

main()
