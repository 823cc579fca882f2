from cfcli.launch import main

main()
