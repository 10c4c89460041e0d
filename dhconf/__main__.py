from dhconf.cli import main

main()
