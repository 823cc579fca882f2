from cfcli.main import main

main()
