from rft_cli.main import main

main()
