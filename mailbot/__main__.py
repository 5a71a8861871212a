from mailbot.cli.commands import main

main()
