from yidi.cli import main

main()
