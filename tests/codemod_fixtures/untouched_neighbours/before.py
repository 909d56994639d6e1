import os ;  import re   # two on a line
x = {'a':1,
     "b" : 2}  


@some.decorator( 1 ,2 )
# between
def b(  y :int=3 ) -> 'M' :
    '''single quotes'''
    return M( )




def after() -> None: ...
