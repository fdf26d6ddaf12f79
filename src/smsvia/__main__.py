from smsvia.cli import main

main()
